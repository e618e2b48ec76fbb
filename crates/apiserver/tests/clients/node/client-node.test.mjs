// The official JavaScript client (`@kubernetes/client-node`, 1.4 and 2.0) against a kubeforge API
// server. Run with `node --test` by crates/apiserver/tests/official_clients.rs, which starts the
// server and sets KUBECONFIG to the kubeconfig the server itself writes (no hand edits: a
// client-node user loads that file as it is). Each test works in a namespace of its own.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';

const versions = { '1.4': await import('cn14'), '2.0': await import('cn20') };

function clients(k8s) {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(process.env.KUBECONFIG);
  return { kc, core: kc.makeApiClient(k8s.CoreV1Api) };
}

async function namespace(core) {
  const name = `js-${randomUUID().slice(0, 8)}`;
  await core.createNamespace({ body: { metadata: { name } } });
  return name;
}

function configMap(name, data = { a: '1' }) {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data };
}

/** Resolves when `check()` is true, polling; rejects after `ms`. */
async function eventually(check, ms = 10000) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

for (const [version, k8s] of Object.entries(versions)) {
  test(`${version}: create, read, list, replace, delete`, async () => {
    const { core } = clients(k8s);
    const ns = await namespace(core);
    const created = await core.createNamespacedConfigMap({ namespace: ns, body: configMap('one') });
    assert.ok(created.metadata.uid);
    const read = await core.readNamespacedConfigMap({ name: 'one', namespace: ns });
    read.data.b = '2';
    const replaced = await core.replaceNamespacedConfigMap({ name: 'one', namespace: ns, body: read });
    assert.deepEqual(replaced.data, { a: '1', b: '2' });
    // A stale resourceVersion conflicts.
    await assert.rejects(
      core.replaceNamespacedConfigMap({ name: 'one', namespace: ns, body: read }),
      (err) => err.code === 409,
    );
    const list = await core.listNamespacedConfigMap({ namespace: ns });
    assert.deepEqual(list.items.map((c) => c.metadata.name), ['one']);
    await core.deleteNamespacedConfigMap({ name: 'one', namespace: ns });
    await assert.rejects(
      core.readNamespacedConfigMap({ name: 'one', namespace: ns }),
      (err) => err.code === 404,
    );
  });

  test(`${version}: makeInformer sees adds, updates and deletes`, async () => {
    const { kc, core } = clients(k8s);
    const ns = await namespace(core);
    const informer = k8s.makeInformer(kc, `/api/v1/namespaces/${ns}/configmaps`, () =>
      core.listNamespacedConfigMap({ namespace: ns }),
    );
    const seen = [];
    for (const verb of ['add', 'update', 'delete']) {
      informer.on(verb, (obj) => seen.push(`${verb} ${obj.metadata.name}`));
    }
    await informer.start();
    try {
      await core.createNamespacedConfigMap({ namespace: ns, body: configMap('inf') });
      await eventually(() => informer.get('inf', ns) !== undefined);
      await core.patchNamespacedConfigMap(
        { name: 'inf', namespace: ns, body: [{ op: 'replace', path: '/data/a', value: '2' }] },
      );
      await eventually(() => informer.get('inf', ns)?.data?.a === '2');
      await core.deleteNamespacedConfigMap({ name: 'inf', namespace: ns });
      await eventually(() => informer.get('inf', ns) === undefined);
      assert.deepEqual(seen, ['add inf', 'update inf', 'delete inf']);
    } finally {
      await informer.stop();
    }
  });

  test(`${version}: Watch streams events`, async () => {
    const { kc, core } = clients(k8s);
    const ns = await namespace(core);
    const events = [];
    const watch = new k8s.Watch(kc);
    const controller = await watch.watch(
      `/api/v1/namespaces/${ns}/configmaps`,
      {},
      (phase, obj) => events.push(`${phase} ${obj.metadata.name}`),
      () => {},
    );
    try {
      await core.createNamespacedConfigMap({ namespace: ns, body: configMap('w') });
      await core.deleteNamespacedConfigMap({ name: 'w', namespace: ns });
      await eventually(() => events.length >= 2);
      assert.deepEqual(events, ['ADDED w', 'DELETED w']);
    } finally {
      controller.abort();
    }
  });

  test(`${version}: KubernetesObjectApi applies server-side`, async () => {
    const { kc, core } = clients(k8s);
    const ns = await namespace(core);
    const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
    const spec = { ...configMap('applied', { a: '1', b: '2' }), metadata: { name: 'applied', namespace: ns } };
    const first = await objects.patch(spec, undefined, undefined, 'js-test', false, k8s.PatchStrategy.ServerSideApply);
    assert.deepEqual(first.data, { a: '1', b: '2' });
    assert.deepEqual(first.metadata.managedFields.map((m) => m.manager), ['js-test']);
    // Dropping a field removes it; another manager conflicts unless it forces.
    const second = await objects.patch(
      { ...spec, data: { a: '1' } }, undefined, undefined, 'js-test', false, k8s.PatchStrategy.ServerSideApply,
    );
    assert.deepEqual(second.data, { a: '1' });
    await assert.rejects(
      objects.patch({ ...spec, data: { a: 'x' } }, undefined, undefined, 'other', false, k8s.PatchStrategy.ServerSideApply),
      (err) => err.code === 409,
    );
    const forced = await objects.patch(
      { ...spec, data: { a: 'x' } }, undefined, undefined, 'other', true, k8s.PatchStrategy.ServerSideApply,
    );
    assert.equal(forced.data.a, 'x');
    const read = await objects.read({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'applied', namespace: ns } });
    assert.equal(read.data.a, 'x');
    await objects.delete(read);
    const list = await core.listNamespacedConfigMap({ namespace: ns });
    assert.deepEqual(list.items, []);
  });
}
