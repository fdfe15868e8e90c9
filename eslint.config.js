// ESLint: neostandard (standard's successor, the config fastify/demo uses) with its TypeScript rules.
// Built and generated output is not linted: dist/, the client's bundle, tap's and the bench's files.
import neostandard from 'neostandard'

export default [
  ...neostandard({
    ts: true,
    ignores: [
      ...neostandard.resolveIgnoresFromGitignore(),
      'client/dist/',
      'bench-results/',
      '.tap/',
      '.build-test-*/'
    ]
  }),
  {
    rules: {
      // `void promise;` marks a promise left to run on its own (its errors are handled inside)
      'no-void': ['error', { allowAsStatement: true }],
      // TypeBox declares a schema and its type under one name (STYLE.md, rule 5); TypeScript
      // itself reports a real redeclaration
      '@typescript-eslint/no-redeclare': 'off'
    }
  },
  {
    // the demo page runs in the browser
    files: ['public/**/*.js'],
    languageOptions: { globals: { window: 'readonly', document: 'readonly', location: 'readonly', localStorage: 'readonly', sessionStorage: 'readonly', navigator: 'readonly' } }
  }
]
