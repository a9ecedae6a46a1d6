// class-transformer ships its metadata storage (what class-validator-jsonschema needs to follow
// @Type) as a deep file without typings of its own path.
declare module 'class-transformer/cjs/storage.js' {
  export { defaultMetadataStorage } from 'class-transformer/types/storage.js';
}
