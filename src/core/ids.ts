import { v7 as uuidv7 } from 'uuid';

/** Time-ordered unique id (UUIDv7) for punches. */
export function newPunchId(): string {
  return uuidv7();
}
