export * from './model';
export * from './stats';
export * from './report';
export * from './verdict';
