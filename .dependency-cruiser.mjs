/**
 * The shape of src/ as a rule (`npm run lint` runs it, so CI does): no module imports in a circle,
 * and each layer imports only from its own folder and the layers below it (docs/design.md, "Where
 * the code goes"). Type-only imports count: a type that points upward hides the layering as well
 * as a value does.
 */

/** Bottom to top. A folder may import its own files and any folder of a lower rank. */
const LAYERS = [
  ['domain', 'client'],
  ['db', 'redis', 'kafka'],
  ['platform'],
  ['inventory'],
  ['guard', 'lifecycle', 'waiting-room'],
  ['purchase'],
  ['reconcile'],
  ['http'],
  ['app'],
];

/** Platform modules that import nothing of the project but config.ts: the adapters may use them too. */
const FOUNDATION = '^src/platform/(timeouts|log)[.]ts$';

const folder = (name) => `^src/${name}/`;
const above = (rank) => LAYERS.slice(rank + 1).flat();

const layerRules = LAYERS.flatMap((names, rank) =>
  names.map((name) => {
    // Same-rank folders are siblings, not layers: guard/ and lifecycle/ do not import each other.
    const forbidden = [...above(rank), ...names.filter((other) => other !== name)];
    return {
      name: `layer-${name}`,
      comment: `src/${name}/ imports only from itself and the layers below it`,
      severity: 'error',
      from: { path: folder(name) },
      to: {
        path: `^src/(${forbidden.join('|')}|cli|demo|chaos|container)/`,
        pathNot: name === 'db' || name === 'redis' || name === 'kafka' ? FOUNDATION : undefined,
      },
    };
  }),
);

export default {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'A module must not reach itself again through its imports (type-only imports included).',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    ...layerRules,
    {
      name: 'foundation-is-a-leaf',
      comment: 'timeouts.ts and log.ts are used below platform/, so they import nothing of the project but config.ts.',
      severity: 'error',
      from: { path: FOUNDATION },
      to: { path: '^src/', pathNot: '^src/config[.]ts$' },
    },
    {
      name: 'config-is-a-leaf',
      comment: 'config.ts is read by every layer, so it imports nothing of the project.',
      severity: 'error',
      from: { path: '^src/config[.]ts$' },
      to: { path: '^src/' },
    },
    {
      name: 'web-pages-stay-in-the-browser',
      comment: 'web/src is bundled for browsers: of the server code it may use only src/client/.',
      severity: 'error',
      from: { path: '^web/src/' },
      to: { path: '^src/', pathNot: '^src/client/' },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|web/dist)/' },
  },
};
