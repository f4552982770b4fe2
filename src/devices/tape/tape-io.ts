/**
 * One open tape device through the kernel seam: MTIOCTOP operations,
 * MTIOCGET status, MTIOCPOS position, and record reads and writes, with the
 * structs laid out for the kernel's architecture (so a 32-bit ARM Pi sends
 * the 28-byte `struct mtget` its st driver expects).
 *
 * Everything that moves tape runs off the event loop (ioctlBlocking,
 * readBlocking, writeBlocking): a rewind can take minutes. MTIOCGET only
 * reads the driver's bookkeeping, so it is a plain synchronous call.
 */
import type { Arch } from '../../kernel/arch.js';
import { alloc, decode, encode } from '../../kernel/codec.js';
import { O, type DeviceFile, type Kernel } from '../../kernel/kernel.js';
import { catalogue, type IoctlRequest } from '../../kernel/requests.js';
import { mtget, mtop, mtpos } from '../../kernel/structs.js';
import { MT, decodeStatus, type MtOpName, type TapeStatus } from './mtio.js';

export class TapeIo {
  readonly #req: { top: IoctlRequest; get: IoctlRequest; pos: IoctlRequest };

  constructor(
    readonly file: DeviceFile,
    readonly arch: Arch,
  ) {
    const cat = catalogue(arch);
    this.#req = { top: cat.get('MTIOCTOP'), get: cat.get('MTIOCGET'), pos: cat.get('MTIOCPOS') };
  }

  /**
   * Opens read-write and O_NONBLOCK: st then opens even with no tape or a
   * write-protected one (writes fail later with EACCES), so `status` and
   * `load` work in every state of the drive.
   */
  static open(kernel: Kernel, path: string): TapeIo {
    return new TapeIo(kernel.open(path, O.RDWR | O.NONBLOCK | O.CLOEXEC), kernel.arch);
  }

  /** One MTIOCTOP operation (`mt` does the same), off the event loop. */
  async op(name: MtOpName, count = 1): Promise<void> {
    const arg = encode(mtop, this.arch, { mt_op: MT[name], mt_count: count });
    await this.file.ioctlBlocking(this.#req.top, arg);
  }

  status(): TapeStatus {
    const buf = alloc(mtget, this.arch);
    this.file.ioctl(this.#req.get, buf);
    return decodeStatus(decode(mtget, this.arch, buf));
  }

  /** MTIOCPOS: the drive's logical block address (records and filemarks counted from the beginning). */
  async position(): Promise<number> {
    const buf = alloc(mtpos, this.arch);
    await this.file.ioctlBlocking(this.#req.pos, buf);
    return decode(mtpos, this.arch, buf).mt_blkno;
  }

  /** One read(2): a record in variable-block mode, whole blocks in fixed mode; empty at a filemark. */
  async read(maxBytes: number): Promise<Buffer> {
    const buf = Buffer.alloc(maxBytes);
    const n = await this.file.readBlocking(buf, maxBytes);
    return buf.subarray(0, n);
  }

  /** One write(2): one record in variable-block mode, whole blocks in fixed mode. */
  async write(data: Uint8Array): Promise<number> {
    return this.file.writeBlocking(data);
  }

  close(): void {
    this.file.close();
  }
}
