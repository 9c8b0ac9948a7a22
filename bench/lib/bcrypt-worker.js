// The raw figure for the saturation row: bcryptjs compareSync back to back in one worker thread
// for `ms` from the worker's own start (at least one compare), answering how many finished and in
// how long.
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const bcrypt = require('bcryptjs');

const { password, hash, ms } = workerData;
const started = Date.now();
let count = 0;
let last = started;
do {
  if (!bcrypt.compareSync(password, hash)) throw new Error('the hash does not match');
  count += 1;
  last = Date.now();
} while (last - started < ms);
parentPort.postMessage({ count, ms: last - started });
