import { getMetadataStorage } from 'class-validator';
import type { ValidationMetadata } from 'class-validator/types/metadata/ValidationMetadata.js';

/**
 * class-validator looks up a class's rules by scanning every rule of every decorated class in
 * the app, for each object it validates (typestack/class-validator#2686): a batch of 100 jobs
 * paid that scan for each job and each of its messages. The rules never change once the classes
 * are loaded, so the answer is kept per class and arguments; registering any new rule (a class
 * loaded later) empties the cache.
 */
export function cacheValidationMetadata(): void {
  const storage = getMetadataStorage();
  if ((storage as { tcCached?: boolean }).tcCached) return;
  const lookup = storage.getTargetValidationMetadatas.bind(storage);
  const register = storage.addValidationMetadata.bind(storage);
  let cache = new WeakMap<object, Map<string, ValidationMetadata[]>>();
  storage.addValidationMetadata = (metadata: ValidationMetadata) => {
    cache = new WeakMap();
    register(metadata);
  };
  storage.getTargetValidationMetadatas = (target: Function, schema: string, always: boolean, strictGroups: boolean, groups?: string[]) => {
    const key = `${schema}\u0000${always}\u0000${strictGroups}\u0000${groups?.join('\u0000') ?? ''}`;
    let perTarget = cache.get(target);
    if (!perTarget) cache.set(target, (perTarget = new Map()));
    let rules = perTarget.get(key);
    if (!rules) perTarget.set(key, (rules = lookup(target, schema, always, strictGroups, groups)));
    return rules;
  };
  (storage as { tcCached?: boolean }).tcCached = true;
}
