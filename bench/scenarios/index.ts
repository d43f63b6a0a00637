import { chatStream } from './chatStream';
import { connectStorm } from './connectStorm';
import { fanoutMax } from './fanoutMax';
import { fanoutSteady } from './fanoutSteady';
import { hold10k } from './hold10k';
import { idleMemory } from './idleMemory';
import { manyTopics } from './manyTopics';
import type { Scenario } from './scenario';

/** In the order they run. */
export const scenarios: Scenario[] = [fanoutMax, fanoutSteady, manyTopics, chatStream, connectStorm, idleMemory, hold10k];
