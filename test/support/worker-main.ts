/**
 * Runs a child process's main function and exits: 0 when it resolves, 1 (after printing the error) when it rejects.
 * @param main the worker's work
 */
export function runMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
