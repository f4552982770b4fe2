// Runs in the emulated Node: loads vitest's forks worker (which starts
// listening for the pool's messages as it loads), then tells qemu-pool.ts it
// is ready. Vitest's start handshake has a fixed time limit; loading the
// worker's modules under emulation on a loaded machine must not count against it.
import { pathToFileURL } from 'node:url';

await import(pathToFileURL(process.argv[2]).href);
process.send({ dev2mqttWorkerReady: true });
