// Small statistics helpers.

/** Median (the lower middle for an even count). */
export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor((s.length - 1) / 2)];
};

/** (max − min) / median, as a fraction; 0 for a single run. */
export const spread = (xs) => {
  if (xs.length < 2) return 0;
  const m = median(xs);
  return m === 0 ? 0 : (Math.max(...xs) - Math.min(...xs)) / Math.abs(m);
};

/** Summary of repeated runs of one metric. */
export const summarize = (runs) => ({ value: median(runs), spread: spread(runs), runs });
