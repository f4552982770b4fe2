/** Bytes in JSON: `utf8` text, `hex` or `base64`, for `write` arguments and `read` results. */
import { s } from '../../schema/schema.js';

export const ENCODINGS = ['utf8', 'hex', 'base64'] as const;
export type Encoding = (typeof ENCODINGS)[number];

export const encodingSchema = s.enum(ENCODINGS, { caseInsensitive: true });

/** Why `data` is not valid in `encoding`, or undefined when it is. */
export function encodingProblem(data: string, encoding: Encoding): string | undefined {
  if (encoding === 'hex' && !/^(?:[0-9a-fA-F]{2}|\s)*$/.test(data)) return 'data is not hex: pairs of 0-9a-f, spaces allowed';
  if (encoding === 'base64' && !/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(data)) return 'data is not base64';
  return undefined;
}

export function decodeData(data: string, encoding: Encoding): Buffer {
  return encoding === 'hex' ? Buffer.from(data.replace(/\s+/g, ''), 'hex') : Buffer.from(data, encoding);
}

export function encodeData(bytes: Buffer, encoding: Encoding): string {
  return bytes.toString(encoding);
}
