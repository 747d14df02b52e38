/** Modular Handlebars email templates: compile once, render synchronously, check the result. */
export { compileTemplates, type TemplateSet, type TemplateFile, type CompileOptions, type CompiledEmail } from './compile';
export { render, resolveLocale, type RenderInput, type RenderedEmail } from './render';
export { assertRenderedClean } from './clean';
export { TemplateCompileError, TemplateRenderError, DirtyRenderError } from './errors';
export { safeUrl, type RenderData, type RenderFactProduct, type RenderFacts, type RenderProduct } from './view';
export { KNOWN_HELPERS } from './helpers';
export { EMAIL_PARTS, type EmailPart } from './files';
export { trackParts, type LinkTracking } from './tracking';
