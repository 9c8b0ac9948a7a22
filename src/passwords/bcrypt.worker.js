// Runs inside a Piscina worker thread: bcryptjs is pure JavaScript and blocks whatever thread it
// runs on, even through its async API, so the event loop must never run it.
'use strict';
const bcrypt = require('bcryptjs');

module.exports = function run(task) {
  if (task.op === 'hash') return bcrypt.hashSync(task.password, task.cost);
  return bcrypt.compareSync(task.password, task.hash);
};
