/**
 * The part of jstat (https://github.com/jstat/jstat, no bundled types) that Kairos uses: the
 * distributions behind the experiment statistics (services/core/experiments).
 */
declare module 'jstat' {
  interface ContinuousDistribution {
    cdf(x: number, ...parameters: number[]): number;
    inv(p: number, ...parameters: number[]): number;
    pdf(x: number, ...parameters: number[]): number;
  }
  export const jStat: {
    normal: ContinuousDistribution;
    studentt: ContinuousDistribution;
    chisquare: ContinuousDistribution;
    beta: ContinuousDistribution;
    /** The complementary error function: the normal distribution's two-sided tail, erfc(|z|/sqrt 2). */
    erfc(x: number): number;
  };
}
