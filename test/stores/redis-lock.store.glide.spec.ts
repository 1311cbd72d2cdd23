import { connectGlide, describeStoreOnClient } from '../support/foreign-clients';

// The same conformance suite on a Valkey GLIDE client the app created itself.
describeStoreOnClient('Valkey GLIDE', connectGlide);
