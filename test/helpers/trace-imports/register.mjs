// `node --import <this file> …` records which modules a run loads (see hooks.mjs).
import { register } from 'node:module';

register('./hooks.mjs', import.meta.url);
