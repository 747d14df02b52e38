/** The tracker's routes are composed from route sets: the links first, then any extra set (e.g. SES feedback). */
import type { RouteHandler } from '../../../services/kit/http';
import { composeRoutes } from '../../../services/tracker/main';

const handler: RouteHandler = (_req, res) => void res.end();

describe('composeRoutes', () => {
  it('merges public and private routes of several sets', () => {
    const merged = composeRoutes([{ public: { 'GET /c/': handler } }, { public: { 'POST /ses/': handler }, private: { 'GET /campaigns/': handler } }]);
    expect(Object.keys(merged.public)).toEqual(['GET /c/', 'POST /ses/']);
    expect(Object.keys(merged.private)).toEqual(['GET /campaigns/']);
  });

  it('refuses the same route twice, public or private', () => {
    expect(() => composeRoutes([{ public: { 'GET /c/': handler } }, { private: { 'GET /c/': handler } }])).toThrow('route "GET /c/" is defined twice');
    expect(() => composeRoutes([{ public: { 'GET /c/': handler } }, { public: { 'GET /c/': handler } }])).toThrow(/defined twice/);
  });
});
