import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');

interface PackedFile {
  path: string;
}

/** What `npm pack` would publish (built from the current source by `prepack`). */
function packedFiles(): string[] {
  const output = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
  const [pack] = JSON.parse(output) as Array<{ files: PackedFile[] }>;
  return pack.files.map((file) => file.path);
}

describe('the published package', () => {
  beforeAll(() => {
    execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'ignore' });
  }, 120_000);

  it('ships the license, the README, both builds and the charts the README shows, and no tests or sources', () => {
    const files = packedFiles();
    expect(files).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json', 'dist/cjs/index.js', 'dist/esm/index.js']));
    expect(files).toEqual(expect.arrayContaining(['bench/results/latest.svg', 'bench/results/latest-waits.svg']));
    expect(files.filter((file) => file.startsWith('test/') || file.startsWith('lib/') || file.endsWith('.spec.js'))).toEqual([]);
  });

  it('ships nest-lock/testing in both builds, and runs no script when installed', () => {
    const files = packedFiles();
    expect(files).toEqual(
      expect.arrayContaining(['dist/cjs/testing/index.js', 'dist/esm/testing/index.js', 'dist/cjs/testing/index.d.ts']),
    );
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(Object.keys(manifest.scripts).filter((name) => /^(pre|post)?install$|^prepare$/.test(name))).toEqual([]);
  });

  it('names where it lives: repository, homepage and bugs', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest.repository).toMatchObject({ url: expect.stringMatching(/^git\+https:\/\//) });
    expect(manifest.homepage).toMatch(/^https:\/\//);
    expect(manifest.bugs).toMatchObject({ url: expect.stringMatching(/^https:\/\//) });
    expect(manifest.license).toBe('MIT');
  });

  it('leaves @internal members out of the published types', () => {
    const types = readFileSync(join(root, 'dist', 'cjs', 'core', 'lock.service.d.ts'), 'utf8');
    expect(types).toMatch(/using<T>/);
    expect(types).not.toMatch(/reportAndThrow/);
  });

  it('shows images in the README by absolute URLs of shipped files, so they render on the npm page', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const images = [...readme.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((match) => match[1]);
    expect(images.length).toBeGreaterThan(0);
    const files = packedFiles();
    for (const image of images) {
      const shipped = /^https:\/\/cdn\.jsdelivr\.net\/npm\/nest-lock\/(.+)$/.exec(image);
      expect(shipped?.[1] !== undefined && files.includes(shipped[1])).toBe(true);
    }
  });
});
