/** The waiting room on one Redis (the suite is shared with the cluster topology: suite.ts). */
import { waitingRoomSuite } from './suite.ts';

waitingRoomSuite('single', {}, 1);
