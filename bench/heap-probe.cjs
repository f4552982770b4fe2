// Preloaded into the agent by the footprint bench only (with --expose-gc): on
// SIGUSR2 it runs a full GC and writes the live heap to the file named in
// DEV2MQTT_BENCH_HEAP_OUT. RSS says how much memory V8 and malloc keep; the
// live heap after a full GC is what a leak would grow.
'use strict';
const { writeFileSync } = require('node:fs');

process.on('SIGUSR2', () => {
  globalThis.gc();
  globalThis.gc();
  const m = process.memoryUsage();
  writeFileSync(process.env.DEV2MQTT_BENCH_HEAP_OUT, JSON.stringify({ heapUsed: m.heapUsed, external: m.external, rss: m.rss }));
});
