const PREFIX = '{"completions":[';
const SUFFIX = ']}';

/** The body of `POST /v1/nodes/:id/completions` from completions already in JSON. */
export function completionsBody(jsons: string[]): string {
  return `${PREFIX}${jsons.join(',')}${SUFFIX}`;
}

/**
 * Cuts a run of completions (their JSON sizes in bytes, in order) into consecutive slices
 * [from, to) whose bodies stay within `maxBytes` and `maxItems`. One completion over the budget
 * on its own still gets a slice: the API, not the agent, decides whether it is too large.
 */
export function splitByBytes(sizes: number[], maxBytes: number, maxItems: number): [number, number][] {
  const slices: [number, number][] = [];
  const empty = PREFIX.length + SUFFIX.length;
  let from = 0;
  let bytes = empty;
  for (let i = 0; i < sizes.length; i++) {
    const added = sizes[i] + (i > from ? 1 : 0); // the comma
    if (i > from && (bytes + added > maxBytes || i - from >= maxItems)) {
      slices.push([from, i]);
      from = i;
      bytes = empty + sizes[i];
    } else bytes += added;
  }
  if (sizes.length > from) slices.push([from, sizes.length]);
  return slices;
}
