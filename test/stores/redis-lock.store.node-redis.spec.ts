import { createClient as createClient4 } from 'redis4';
import { connectNodeRedis, describeStoreOnClient } from '../support/foreign-clients';

// The same conformance suite on node-redis clients (v5 and v4) the app created and connected itself.
describeStoreOnClient('node-redis 5', connectNodeRedis());
describeStoreOnClient('node-redis 4', connectNodeRedis(createClient4));
