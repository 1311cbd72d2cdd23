// The store conformance suite is published with the package (nest-lock/testing, lib/testing/): every store's spec runs it from there.
export { describeLockStoreConformance } from '../../lib/testing';
