/** A campaigns.yaml with one 2 x 2 experiment and a 10% holdout, for the results tests. */
export const EXPERIMENT_CAMPAIGNS = `campaigns:
  - name: upsell
    rules: [high_interest]
    priority: 10
    template: upsell
    experiment:
      name: subject_and_recs
      holdout: 10%
      variables:
        subject:
          - { name: plain, value: "Plain" }
          - { name: question, value: "Question?" }
        recommendations:
          - { name: co_viewed }
          - { name: popular }
`;
