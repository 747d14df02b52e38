export * from './model';
export * from './stats';
