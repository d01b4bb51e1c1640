import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseLabelSelector, SelectorError } from '../../src/controlplane/selectors/labels.ts';
import { parseFieldSelector } from '../../src/controlplane/selectors/fields.ts';

describe('label selectors', () => {
  const labels = { app: 'web', tier: 'front', 'example.com/team': 'a', n: '5' };
  const cases: [string, boolean][] = [
    ['', true],
    ['app=web', true],
    ['app==web', true],
    ['app=db', false],
    ['app!=db', true],
    ['app!=web', false],
    ['missing!=x', true],
    ['app in (web,db)', true],
    ['app in (db)', false],
    ['app notin (db, cache)', true],
    ['app notin (web)', false],
    ['missing notin (x)', true],
    ['missing in (x)', false],
    ['tier', true],
    ['missing', false],
    ['!missing', true],
    ['!tier', false],
    ['app=web,tier=front', true],
    ['app=web,tier=back', false],
    ['example.com/team=a', true],
    ['n>3', true],
    ['n<3', false],
    [' app = web , tier in ( front ) ', true],
  ];
  for (const [sel, want] of cases) {
    it(`${JSON.stringify(sel)} → ${String(want)}`, () => {
      assert.equal(parseLabelSelector(sel).matches(labels), want);
    });
  }
  it('matches objects without labels against negative requirements only', () => {
    assert.equal(parseLabelSelector('a!=b').matches(undefined), true);
    assert.equal(parseLabelSelector('a').matches(undefined), false);
  });
  for (const bad of ['app=', 'app in ()', 'app in (a', '=x', 'app=web,', 'a b', 'app=va lue', 'Bad Key=1', 'app=@x']) {
    it(`rejects ${JSON.stringify(bad)}`, () => {
      if (bad === 'app=') {
        // An empty value is allowed by upstream (app= matches app="").
        assert.equal(parseLabelSelector(bad).matches({ app: '' }), true);
        return;
      }
      assert.throws(() => parseLabelSelector(bad), SelectorError);
    });
  }
});

describe('field selectors', () => {
  const fields = new Set(['metadata.name', 'metadata.namespace', 'spec.type']);
  const get = (f: string): string | undefined => ({ 'metadata.name': 'web', 'metadata.namespace': 'prod', 'spec.type': 'ClusterIP' })[f];
  const cases: [string, boolean][] = [
    ['', true],
    ['metadata.name=web', true],
    ['metadata.name==web', true],
    ['metadata.name!=web', false],
    ['metadata.namespace=prod,metadata.name=web', true],
    ['metadata.namespace=dev', false],
    ['spec.type!=NodePort', true],
  ];
  for (const [sel, want] of cases) {
    it(`${JSON.stringify(sel)} → ${String(want)}`, () => {
      assert.equal(parseFieldSelector(sel, fields).matches(get), want);
    });
  }
  it('exposes a metadata.name pin for direct lookups', () => {
    assert.equal(parseFieldSelector('metadata.name=web', fields).name, 'web');
    assert.equal(parseFieldSelector('metadata.name!=web', fields).name, undefined);
  });
  it('unescapes values', () => {
    assert.equal(parseFieldSelector('metadata.name=a\\,b', fields).requirements[0]?.value, 'a,b');
  });
  it('rejects unsupported fields and malformed input', () => {
    assert.throws(() => parseFieldSelector('spec.clusterIP=1.2.3.4', fields), /field label not supported: spec.clusterIP/);
    assert.throws(() => parseFieldSelector('metadata.name', fields), SelectorError);
  });
});
