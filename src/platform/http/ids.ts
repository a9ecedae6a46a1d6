const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Ids in URLs are UUIDs; anything else cannot name a resource and is answered as not found. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

export const UUID_PATTERN = UUID;
