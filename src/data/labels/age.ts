// Age labels: whole or fractional years. UTKFace spans 1–116; MORPH II 16–77.

/** The youngest and oldest age a label or a reading may have; anything outside is not an age. */
export const MIN_AGE = 0;
export const MAX_AGE = 120;

export function isPlausibleAge(years: number): boolean {
  return Number.isFinite(years) && years >= MIN_AGE && years <= MAX_AGE;
}

/** A dataset's age cell ("35", "35.5") in years, or null when it is not a number in [MIN_AGE, MAX_AGE]. */
export function parseAgeLabel(cell: string): number | null {
  const text = cell.trim();
  if (!/^\d+(?:\.\d+)?$/.test(text)) return null;
  const years = Number(text);
  return isPlausibleAge(years) ? years : null;
}
