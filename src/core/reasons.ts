/**
 * Reason codes of access decisions. The worker sees a pattern (LED colour, blinks, buzzer); the
 * operator sees the code and its text. Codes travel in punch entries, so they never change meaning.
 */
export type ReasonCode =
  | 'ok'
  /** granted, but an "in" while already in (anti-passback policy 'record') */
  | 'passback_recorded'
  | 'not_registered'
  | 'card_face_incomplete'
  | 'card_face_mismatch'
  | 'blacklisted'
  | 'suspended'
  | 'not_entered'
  | 'left_site'
  | 'id_expired'
  | 'cert_missing'
  | 'cert_expired'
  | 'outside_hours'
  | 'anti_passback';

export interface ReasonSignal {
  led: 'green' | 'amber' | 'red';
  /** number of LED blinks (0: steady) */
  blinks: number;
  /** buzzer on/off durations in ms, starting with "on" */
  buzzer: readonly number[];
  /** operator text */
  zh: string;
  en: string;
}

const LONG = [600];
const twice = [150, 100, 150];
const thrice = [150, 100, 150, 100, 150];

export const REASON_SIGNALS: Readonly<Record<ReasonCode, ReasonSignal>> = {
  ok: { led: 'green', blinks: 0, buzzer: [80], zh: '通过', en: 'granted' },
  passback_recorded: { led: 'green', blinks: 2, buzzer: [80], zh: '通过（重复进场已记录）', en: 'granted; "in" while already in recorded' },
  not_registered: { led: 'red', blinks: 0, buzzer: LONG, zh: '未登记', en: 'not registered' },
  card_face_incomplete: { led: 'amber', blinks: 1, buzzer: twice, zh: '需刷卡并刷脸', en: 'card and face both required' },
  card_face_mismatch: { led: 'red', blinks: 1, buzzer: thrice, zh: '卡与人脸不一致', en: 'card and face name different workers' },
  blacklisted: { led: 'red', blinks: 2, buzzer: LONG, zh: '黑名单', en: 'blacklisted' },
  suspended: { led: 'red', blinks: 2, buzzer: twice, zh: '已停用', en: 'suspended' },
  not_entered: { led: 'amber', blinks: 2, buzzer: twice, zh: '未进场', en: 'not entered on this site' },
  left_site: { led: 'amber', blinks: 3, buzzer: twice, zh: '已退场', en: 'has left this site' },
  id_expired: { led: 'amber', blinks: 4, buzzer: thrice, zh: '身份证过期', en: 'ID card expired' },
  cert_missing: { led: 'amber', blinks: 5, buzzer: thrice, zh: '无特种作业证书', en: 'special trade without a certificate' },
  cert_expired: { led: 'amber', blinks: 5, buzzer: thrice, zh: '特种作业证书过期', en: 'special trade certificate expired' },
  outside_hours: { led: 'amber', blinks: 6, buzzer: twice, zh: '不在允许时段', en: 'outside allowed hours' },
  anti_passback: { led: 'red', blinks: 3, buzzer: thrice, zh: '重复进出', en: 'anti-passback: same direction twice' },
};

export function reasonSignal(reason: ReasonCode): ReasonSignal {
  return REASON_SIGNALS[reason];
}
