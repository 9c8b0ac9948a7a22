// Runs inside a Piscina worker thread: bcryptjs is pure JavaScript and blocks whatever thread it
// runs on, even through its async API, so the event loop must never run it.
'use strict';
const os = require('node:os');
const bcrypt = require('bcryptjs');

// Hashing takes the CPU the rest of the service leaves: at equal priority, with every core hashing
// (a login burst), each request's JavaScript waits for a time slice behind bcrypt rounds. On Linux
// a nice value is a thread's own: this worker thread goes ten steps below the thread that started
// it. Elsewhere the same call would lower the whole process (macOS, Windows), so it is not made.
if (process.platform === 'linux') {
  try {
    os.setPriority(0, Math.min(19, os.getPriority(0) + 10));
  } catch {}
}

module.exports = function run(task) {
  if (task.op === 'hash') return bcrypt.hashSync(task.password, task.cost);
  return bcrypt.compareSync(task.password, task.hash);
};
