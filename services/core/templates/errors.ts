/** Errors of the template set: at compile time (start-up) and at render time (dead-letter). */

/** A template file is wrong; `line`/`column` are 1-based when known. */
export class TemplateCompileError extends Error {
  constructor(
    message: string,
    readonly file: string,
    readonly line: number | null,
    readonly column: number | null,
  ) {
    super(message);
    this.name = 'TemplateCompileError';
  }
}

/** One render failed (missing required data, a helper without a value, a dirty result). */
export class TemplateRenderError extends Error {
  constructor(
    message: string,
    readonly template: string,
    readonly part: string | null,
  ) {
    super(message);
    this.name = 'TemplateRenderError';
  }
}

/** A rendered part still shows a sign of a broken token. */
export class DirtyRenderError extends Error {
  constructor(
    message: string,
    readonly problem: string,
    readonly excerpt: string,
  ) {
    super(message);
    this.name = 'DirtyRenderError';
  }
}
