/**
 * The sim side of the public API, apart so that an agent whose devices are
 * all real never loads it: a plug-in kind's `sim()` imports it when a device
 * asks for `sim: true` (`const { SimSysfs } = await import('dev2mqtt/sim')`).
 */
export { SimSysfs, SimErrno, storedText, storedUnsigned, type AttrSpec } from './kernel/sysfs-sim.js';
export { loadTree } from './kernel/sysfs-recorded.js';
