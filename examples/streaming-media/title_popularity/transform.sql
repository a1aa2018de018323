-- Popularity per title: plays, distinct viewers, hours watched, completion rate.
-- Input ports `events` and `titles` are tables by their names.
WITH per_title AS (
    SELECT
        title_id,
        count(*)                              AS plays,
        count(DISTINCT viewer_id)             AS viewers,
        sum(watch_seconds) / 3600.0           AS hours_watched,
        avg(CASE WHEN completed THEN 1.0 ELSE 0.0 END) AS completion_rate
    FROM events
    GROUP BY title_id
)
SELECT
    p.title_id,
    t.title,
    t.genre,
    p.plays,
    p.viewers,
    round(p.hours_watched, 2)    AS hours_watched,
    round(p.completion_rate, 4)  AS completion_rate,
    rank() OVER (ORDER BY p.hours_watched DESC) AS popularity_rank
FROM per_title p
JOIN titles t USING (title_id)
