/** Runs in every test file: what the file made under the temp dir goes when it ends. */
import { afterAll } from 'vitest';
import { removeTempDirs } from './helpers/temp.js';

afterAll(() => removeTempDirs());
