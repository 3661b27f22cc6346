// The layer and outcome helpers live in @strata-oci/testing (users' property
// tests use the same ones); re-exported here for the tests' own imports.
export {
  diskOutcome,
  entriesOf,
  fileLayer,
  memoryLayer,
  mergedOutcome,
  modelOutcome,
  PRIVILEGED,
  sha256,
  tempDir,
  type Outcome,
} from "@strata-oci/testing";
