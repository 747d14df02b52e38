import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// The layers: a pure core, a kit of adapters, thin services. A relative import into one of
// `folders` (`../kit/redis`, `../../renderer/store`) is matched by the folder's name.
const SERVICE_FOLDERS = ['segmenter', 'trigger', 'renderer', 'recommender', 'results', 'tools', 'console'];
const relativeInto = (folders) => `^(?:\\.\\.?/)+(?:${folders.join('|')})(?:/|$)`;
const NODE_IO = ['fs', 'fs/promises', 'http', 'https', 'http2', 'net', 'tls', 'dgram', 'dns', 'child_process', 'cluster', 'worker_threads'];
const CLIENT_LIBRARIES = ['kafkajs', '@kafkajs/*', 'ioredis', '@aws-sdk/*', 'nodemailer', 'prom-client', 'pino', ...NODE_IO, ...NODE_IO.map((m) => `node:${m}`)];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'logs/', '.stack/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['services/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: relativeInto(['kit', ...SERVICE_FOLDERS]), message: 'services/core is pure: it imports nothing of the kit or of a service (adapters wrap the core, not the other way round).' },
            { group: CLIENT_LIBRARIES, message: 'services/core does no I/O: clients, metrics and logging belong in services/kit or a service.' },
          ],
        },
      ],
    },
  },
  {
    files: ['services/kit/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: relativeInto(SERVICE_FOLDERS), message: 'services/kit serves every service and imports none: move the code into the kit, or keep it in its service.' }] },
      ],
    },
  },
  {
    // kafkajs is loaded through services/kit/kafkajs.ts, which makes its producer's grouping linear
    // before kafkajs loads; a value import of kafkajs elsewhere could load it first.
    files: ['**/*.ts'],
    ignores: ['services/kit/kafkajs.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { paths: [{ name: 'kafkajs', allowTypeImports: true, message: 'import kafkajs from services/kit/kafkajs (its producer groups batches in one pass there).' }] },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable', process: 'readonly', __dirname: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The console's page script runs in the browser, as a classic script beside Chart.js.
    files: ['services/console/static/**/*.js'],
    languageOptions: { sourceType: 'script', globals: { document: 'readonly', window: 'readonly', Chart: 'readonly' } },
  },
);
