import { CREATED_TOPICS_GLOBAL, createTopics, deleteTopicsPresent, randomTopic, waitFor, withAdmin } from '../../support/stack';

// The tests' own housekeeping: kafka-test-environment.ts deletes a file's topics after the file.
describe("a test file's topics", () => {
  it('are listed for the environment by createTopics, and deleteTopicsPresent deletes those that exist', async () => {
    const [first, second, neverCreated] = [randomTopic('cleanup'), randomTopic('cleanup'), randomTopic('cleanup')];
    await createTopics([first, second], 1);
    expect((globalThis as Record<string, unknown>)[CREATED_TOPICS_GLOBAL]).toEqual(expect.arrayContaining([first, second]));

    const deleted = await deleteTopicsPresent([first, second, neverCreated]);

    expect([...deleted].sort()).toEqual([first, second].sort());
    await waitFor('both topics to be gone from the broker', async () => {
      const topics = await withAdmin((admin) => admin.listTopics());
      return !topics.includes(first) && !topics.includes(second);
    });
  });
});
