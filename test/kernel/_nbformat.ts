// The parts of an executed notebook (nbformat 4) the notebook tests read, and small accessors.
// Shared by test/kernel/notebooks.node.test.ts and test/cookbooks/cookbooks.node.test.ts.

/** One output of a code cell. */
export interface Output {
  output_type: string;
  data?: Record<string, string | string[] | object>;
  text?: string | string[];
  ename?: string;
  evalue?: string;
}

/** One cell. */
export interface Cell {
  cell_type: string;
  source: string | string[];
  outputs?: Output[];
}

/** nbformat stores multi-line strings as string arrays; this joins them ("" for anything else). */
export const str = (
  v: string | string[] | object | undefined,
): string => (Array.isArray(v) ? v.join("") : typeof v === "string" ? v : "");

/** The `text/html` of an output. */
export const html = (o: Output): string => str(o.data?.["text/html"]);

/** The `text/plain` of an output. */
export const plain = (o: Output): string => str(o.data?.["text/plain"]);

/** A cell's display_data and execute_result outputs. */
export const displays = (c: Cell): Output[] =>
  (c.outputs ?? []).filter((o) => o.output_type === "display_data" || o.output_type === "execute_result");
