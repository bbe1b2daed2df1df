import { log } from '@temporalio/activity';
import { isNotFound, type MlflowClient, type ModelVersion } from './client.js';
import { withMlflowFailures } from './errors.js';
import { assertMlflowId } from './keys.js';

export const CHAMPION = 'champion';
export const CHALLENGER = 'challenger';
/** Set on a promoted version: the version that was champion before it ('' when none was). */
export const PREVIOUS_CHAMPION_TAG = 'slipway.previous_champion';

const byVersion = (a: ModelVersion, b: ModelVersion) => Number(a.version) - Number(b.version);

/** The model registry activities; see createMlflowActivities. */
export function createRegistryActivities(client: MlflowClient) {
  return {
    /**
     * Registers the run's model as a new version of `modelName` and waits until it is READY.
     * A retry after a crash between MLflow's commit and our receipt finds the version by its run
     * id instead of creating a second one (one run registers one version per model).
     */
    async mlflowRegisterModelVersion(input: { modelName: string; source: string; mlflowRunId: string; workflowId: string }): Promise<{ version: string }> {
      return withMlflowFailures(async () => {
        await client.createRegisteredModel(input.modelName);
        // Filtering by run id alone keeps arbitrary model names out of the filter string.
        const runId = assertMlflowId(input.mlflowRunId, 'mlflowRunId');
        const existing = (await client.searchModelVersions(`run_id='${runId}'`)).filter((mv) => mv.name === input.modelName).sort(byVersion)[0];
        let version = existing?.version;
        if (version === undefined) {
          const tags = { 'slipway.workflow_id': input.workflowId };
          version = (await client.createModelVersion({ name: input.modelName, source: input.source, runId, tags })).version;
          log.info('MLflow model version created', { modelName: input.modelName, version, mlflowRunId: runId });
        }
        await client.waitModelVersionReady(input.modelName, version);
        return { version };
      });
    },

    /** The version behind the `champion` alias and its run's latest metrics, or null when there is none. */
    async mlflowGetChampion(input: { modelName: string }): Promise<{ version: string; mlflowRunId: string; metrics: Record<string, number> } | null> {
      return withMlflowFailures(async () => {
        const mv = await client.getAlias(input.modelName, CHAMPION);
        if (!mv) return null;
        const metrics: Record<string, number> = {};
        if (mv.run_id) {
          try {
            for (const m of (await client.getRun(mv.run_id)).data.metrics) metrics[m.key] = m.value;
          } catch (err) {
            // A champion registered from a since-purged run still is the champion; it just has no metrics.
            if (!isNotFound(err)) throw err;
          }
        }
        return { version: mv.version, mlflowRunId: mv.run_id, metrics };
      });
    },

    /**
     * Points `champion` at `version`, remembering the previous champion on the version's
     * `slipway.previous_champion` tag, and takes `challenger` off it. The tag is written before
     * the alias moves, so a retry at any point returns the same previousChampion.
     */
    async mlflowPromote(input: { modelName: string; version: string }): Promise<{ previousChampion: string | null }> {
      return withMlflowFailures(async () => {
        const target = await client.getModelVersion(input.modelName, input.version);
        const aliases = (await client.getRegisteredModel(input.modelName))?.aliases ?? [];
        const aliasOf = (alias: string) => aliases.find((a) => a.alias === alias)?.version;
        const current = aliasOf(CHAMPION);
        let previousChampion: string | null;
        if (current === input.version) {
          previousChampion = target.tags[PREVIOUS_CHAMPION_TAG] || null;
        } else {
          previousChampion = current ?? null;
          await client.setModelVersionTag(input.modelName, input.version, PREVIOUS_CHAMPION_TAG, previousChampion ?? '');
          await client.setAlias(input.modelName, CHAMPION, input.version);
          log.info('MLflow champion promoted', { modelName: input.modelName, version: input.version, previousChampion });
        }
        if (aliasOf(CHALLENGER) === input.version) await client.deleteAlias(input.modelName, CHALLENGER);
        return { previousChampion };
      });
    },

    /** Points `champion` back at `toVersion` (which must exist); repeating it changes nothing. */
    async mlflowRollback(input: { modelName: string; toVersion: string }): Promise<void> {
      return withMlflowFailures(async () => {
        await client.getModelVersion(input.modelName, input.toVersion);
        await client.setAlias(input.modelName, CHAMPION, input.toVersion);
        log.info('MLflow champion rolled back', { modelName: input.modelName, version: input.toVersion });
      });
    },
  };
}
