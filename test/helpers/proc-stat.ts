import fs from 'node:fs';

/** CPU seconds (user + system, all threads) `pid` has used: /proc/<pid>/stat fields 14 and 15, in 10 ms ticks. */
export function cpuSeconds(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
