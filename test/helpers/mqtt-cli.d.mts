export function parseArgs(argv: readonly string[]): Record<string, unknown>;
export function pub(argv: readonly string[], input?: string): Promise<{ status: number; stderr: string }>;
export function sub(argv: readonly string[], write: (s: string) => void): Promise<number>;
