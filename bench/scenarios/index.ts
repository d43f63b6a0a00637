import { chatStream } from './chatStream';
import { connectStorm } from './connectStorm';
import { fanoutMax } from './fanoutMax';
import { fanoutSteady } from './fanoutSteady';
import { holdMax } from './holdMax';
import { idleMemory } from './idleMemory';
import { manyTopics } from './manyTopics';
import { redisTwoNodes } from './redisTwoNodes';
import type { Scenario } from './scenario';

/** In the order they run. */
export const scenarios: Scenario[] = [fanoutMax, fanoutSteady, manyTopics, chatStream, connectStorm, idleMemory, holdMax, redisTwoNodes];
