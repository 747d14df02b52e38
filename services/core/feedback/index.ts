export * from './sns';
export * from './ses-events';
export * from './guard';
