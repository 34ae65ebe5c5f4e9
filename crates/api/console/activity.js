// A tenant's activity as the fleet saw it. Each instance keeps its own hour in memory and answers
// `GET /admin/tenants/{id}/activity` with it; behind a load balancer the page's refreshes reach
// several instances, so the page keeps the last answer of each and charts them together.
// Pure functions, no DOM: `node` tests them (crates/api/tests/api/console.rs).

/** An instance not heard from for this long is left out (stopped, or out of rotation). */
export const FORGET_INSTANCE_MS = 120_000;

/** The last answer of each instance, merged on demand. */
export class FleetActivity {
  #views = new Map(); // instance id → { activity, seen }

  /** Records an instance's answer, received at `now` (ms). */
  add(activity, now = Date.now()) {
    this.#views.set(activity.instance_id, { activity, seen: now });
    for (const [instance, view] of this.#views) {
      if (now - view.seen > FORGET_INSTANCE_MS) this.#views.delete(instance);
    }
  }

  /** The instances' answers as one, in the shape of one answer plus `instance_ids`. */
  merged() {
    return mergeActivity([...this.#views.values()].map((view) => view.activity));
  }
}

/**
 * Merges instances' answers interval by interval: counts and budget use add up, the projection
 * lag is the largest seen, p50 is the request-weighted mean of the instances' medians, and p99
 * the largest of their p99s (an upper bound: percentiles of separate histograms do not add).
 */
export function mergeActivity(activities) {
  const byStart = new Map();
  for (const activity of activities) {
    for (const sample of activity.samples) {
      const merged = byStart.get(sample.at);
      byStart.set(sample.at, merged ? mergeSamples(merged, sample) : { ...sample });
    }
  }
  const first = activities[0] ?? { interval_secs: 0, window_secs: 3600 };
  return {
    instance_ids: activities.map((a) => a.instance_id).sort(),
    interval_secs: first.interval_secs,
    window_secs: first.window_secs,
    samples: [...byStart.values()].sort((a, b) => Date.parse(a.at) - Date.parse(b.at)),
  };
}

function mergeSamples(a, b) {
  return {
    at: a.at,
    requests: a.requests + b.requests,
    client_errors: a.client_errors + b.client_errors,
    server_errors: a.server_errors + b.server_errors,
    p50_ms: weightedMean([a.p50_ms, a.requests], [b.p50_ms, b.requests]),
    p99_ms: largest(a.p99_ms, b.p99_ms),
    projection_lag_events: largest(a.projection_lag_events, b.projection_lag_events),
    budget_in_use: a.budget_in_use === null && b.budget_in_use === null ? null : (a.budget_in_use ?? 0) + (b.budget_in_use ?? 0),
  };
}

function largest(a, b) {
  if (a === null) return b;
  if (b === null) return a;
  return Math.max(a, b);
}

function weightedMean(...pairs) {
  const known = pairs.filter(([value, weight]) => value !== null && weight > 0);
  const weight = known.reduce((sum, [, w]) => sum + w, 0);
  return weight === 0 ? null : known.reduce((sum, [value, w]) => sum + value * w, 0) / weight;
}
