// What the kernel accounts for a process, and the machine a result was measured on: shared by
// the benches that run a server in its own process (resp.mjs, proxy.mjs, wakeups.mjs).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

const HZ = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** CPU seconds process `pid` has used (user + system), from /proc/<pid>/stat. */
export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / HZ; // utime, stime
}

/** Date, node, kernel, CPUs and load average, plus `extra`, for a result's header. */
export function machine(extra = {}) {
  return {
    date: new Date().toISOString().slice(0, 10),
    node: process.version,
    kernel: os.release(),
    cpus: os.cpus().length,
    cpu: os.cpus()[0]?.model,
    loadAvg: os.loadavg(),
    ...extra,
  };
}
