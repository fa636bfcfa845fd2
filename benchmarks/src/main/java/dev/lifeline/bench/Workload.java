package dev.lifeline.bench;

/** One section of the report: runs its measurements and returns them as Markdown. */
interface Workload {
  /** Short name, for {@code --only}. */
  String name();

  /** Runs the workload against {@code bench.server()} and returns its Markdown section. */
  String run(Bench bench) throws Exception;
}
