// Kills a child process when the sandbox that started it dies, however it dies (even SIGKILL):
// the sandbox holds our stdin open; when the sandbox process is gone, stdin ends and we kill the pid.
// Plain JavaScript so it starts in ~30 ms without a TypeScript loader.
const pid = Number(process.argv[2]);
if (!Number.isInteger(pid) || pid <= 0) process.exit(2);

function reap() {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    process.exit(0);
  }
  // DynamoDB Local normally exits within a second of SIGTERM; make sure.
  setTimeout(() => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
    process.exit(0);
  }, 3000).unref();
  const poll = setInterval(() => {
    try {
      process.kill(pid, 0);
    } catch {
      clearInterval(poll);
      process.exit(0);
    }
  }, 100);
}

process.stdin.on('end', reap);
process.stdin.on('close', reap);
process.stdin.on('error', reap);
process.stdin.resume();
// A Ctrl-C to the process group reaches us too: wait for stdin to end rather than dying first.
process.on('SIGINT', () => {});
process.on('SIGTERM', reap);
