/**
 * The latest instant a job of `maxTokens` may start and still finish inside the delivery window
 * at the product's guaranteed rate `minTokensPerSecond` (rounded up to the whole second, against
 * the late submitter).
 */
export function lastStartFor(deliveryEnd: Date, maxTokens: number, minTokensPerSecond: number): Date {
  const seconds = Math.ceil(maxTokens / Math.max(1, minTokensPerSecond));
  return new Date(deliveryEnd.getTime() - seconds * 1000);
}
