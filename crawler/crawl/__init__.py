"""The crawl: listing, project fetches, the activity feed."""
