/**
 * The auto-cork rules, as pure functions (the hot path of `Socket.send` calls them with no
 * native call). They mirror `CorkPolicy` in crates/cork; a conformance test replays random
 * traces through both ({@link replayCork} here, `corkReplay` in the binding).
 */

/** Why corked bytes were flushed (`sock.stats().flushReasons`). Order matches crates/cork. */
export const FLUSH_REASONS = [
  'full',
  'endOfTick',
  'timer',
  'explicit',
  'largeSend',
  'completion',
  'end',
] as const;
export type FlushReason = (typeof FLUSH_REASONS)[number];

/** One socket's cork settings (resolved options). */
export interface CorkPolicy {
  maxBytes: number;
  maxDelayUs: number;
  largeSend: number;
  enabled: boolean;
}

export const enum Append {
  Cork = 0,
  SealThenCork = 1,
  Bypass = 2,
}

export const enum Tick {
  Idle = 0,
  Flush = 1,
  Hold = 2,
}

/** Where a message of `len` bytes goes when `corked` bytes are already corked. */
export function appendDecision(p: CorkPolicy, corked: number, len: number): Append {
  if (len >= p.largeSend || len > p.maxBytes) return Append.Bypass;
  if (corked > 0 && corked + len > p.maxBytes) return Append.SealThenCork;
  return Append.Cork;
}

/** End of tick: flush, or hold while an earlier flush is in flight (TCP autocorking's rule). */
export function endOfTick(p: CorkPolicy, corked: number, inFlight: number, ending: boolean): Tick {
  if (corked === 0) return Tick.Idle;
  if (inFlight > 0 && p.maxDelayUs > 0 && p.enabled && !ending) return Tick.Hold;
  return Tick.Flush;
}

/** A flush completed: held bytes leave once nothing earlier is in flight. */
export function releasesOnCompletion(corked: number, inFlight: number, holding: boolean): boolean {
  return holding && corked > 0 && inFlight === 0;
}

/** Trace step codes shared with the binding's `corkReplay`: `[op, arg]` pairs. */
export const enum Step {
  Send = 1,
  Flush = 2,
  EndOfTick = 3,
  Complete = 4,
  Timer = 5,
  End = 6,
}

/**
 * Runs one socket's corking over `[op, arg]` steps; returns `[reasonIndex, bytes]` pairs
 * (reason index into {@link FLUSH_REASONS}, or -1 for a message sent directly).
 */
export function replayCork(p: CorkPolicy, steps: Int32Array): Int32Array {
  let corked = 0;
  let inFlight = 0;
  let holding = false;
  let ending = false;
  const out: number[] = [];
  const seal = (reason: FlushReason) => {
    if (corked === 0) return;
    out.push(FLUSH_REASONS.indexOf(reason), corked);
    inFlight += corked;
    corked = 0;
    holding = false;
  };
  for (let i = 0; i + 1 < steps.length; i += 2) {
    const arg = steps[i + 1];
    switch (steps[i] as Step) {
      case Step.Send: {
        if (ending) break;
        const d = appendDecision(p, corked, arg);
        if (d === Append.Cork) corked += arg;
        else if (d === Append.SealThenCork) {
          seal('full');
          corked = arg;
        } else {
          seal('largeSend');
          out.push(-1, arg);
          inFlight += arg;
        }
        if (!p.enabled) seal('explicit');
        break;
      }
      case Step.Flush:
        seal('explicit');
        break;
      case Step.EndOfTick: {
        const t = endOfTick(p, corked, inFlight, ending);
        if (t === Tick.Flush) seal('endOfTick');
        else if (t === Tick.Hold) holding = true;
        break;
      }
      case Step.Complete:
        inFlight -= Math.min(arg, inFlight);
        if (releasesOnCompletion(corked, inFlight, holding)) seal('completion');
        break;
      case Step.Timer:
        if (holding) seal('timer');
        break;
      case Step.End:
        seal('end');
        ending = true;
        break;
    }
  }
  return Int32Array.from(out);
}
